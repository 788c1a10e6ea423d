"""pytest configuration shared by the add-on's tests (run through pytest-odoo)."""

import logging


class _DropTestFrameworkImportError(logging.Filter):
    """pytest-odoo imports ``odoo.tests`` before it turns Odoo's test mode on
    (turning it on for the whole session would make Odoo run every at-install
    test while loading the registry), so Odoo logs a spurious ERROR about the
    import. Only that record is dropped."""

    def filter(self, record):
        return not record.getMessage().startswith("Importing test framework")


logging.getLogger("odoo.tests.common").addFilter(_DropTestFrameworkImportError())
