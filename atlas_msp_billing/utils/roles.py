"""Role checks of the add-on's public methods.

Every public method (a name without a leading underscore) of a model is
callable over RPC by anyone who can read a record of it: the ``groups`` of a
button hide it but protect nothing. Each public method the add-on defines is
therefore decorated with ``msp_role``, which refuses the caller without the
role before the method acts, and marks the method with that role so that the
tests find the methods from the registry and check each of them.
"""

import functools

from odoo.exceptions import AccessError
from odoo.tools.translate import LazyTranslate

_lt = LazyTranslate(__name__)

# Role name -> the group that grants it. The MSP groups imply one another
# (technician < account manager < billing manager); "user" is any internal
# user (pure navigation, which the records' own access rights then limit) and
# "salesperson" anyone who sells, with or without MSP rights.
ROLE_GROUPS = {
    "user": "base.group_user",
    "salesperson": "sales_team.group_sale_salesman",
    "technician": "atlas_msp_billing.group_msp_technician",
    "account_manager": "atlas_msp_billing.group_msp_account_manager",
    "billing_manager": "atlas_msp_billing.group_msp_billing_manager",
}
ROLE_REFUSALS = {
    "user": _lt("Only internal users can do this."),
    "salesperson": _lt("Only salespeople can do this."),
    "technician": _lt("Only MSP technicians, account managers and billing managers can do this."),
    "account_manager": _lt("Only account managers and billing managers can do this."),
    "billing_manager": _lt("Only billing managers can do this."),
}
# The attribute that carries a method's role (read by the tests).
ROLE_ATTRIBUTE = "_msp_role"


def msp_role(role, message=None, write=False):
    """Refuse the call with an ``AccessError`` unless the user has ``role``
    (a key of ``ROLE_GROUPS``) or runs as superuser. ``message`` (a lazy
    translation) says what the role is needed for; ``write`` also requires
    the right to edit the records (access rights and record rules), for the
    methods that change them."""
    if role not in ROLE_GROUPS:
        raise ValueError(f"Unknown MSP role {role!r}")

    def decorate(method):
        @functools.wraps(method)
        def checked(self, *args, **kwargs):
            check_role(self, role, message)
            if write:
                self.check_access("write")
            return method(self, *args, **kwargs)

        setattr(checked, ROLE_ATTRIBUTE, role)
        return checked

    return decorate


def has_role(env, role):
    return env.su or env.user.has_group(ROLE_GROUPS[role])


def check_role(records, role, message=None):
    """Raise an ``AccessError`` saying ``message`` (or what ``role`` is
    needed) unless the user of ``records`` has ``role``."""
    env = records.env
    if not has_role(env, role):
        raise AccessError(env._(message or ROLE_REFUSALS[role]))
