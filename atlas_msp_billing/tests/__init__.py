from . import test_billing
from . import test_foundation
from . import test_periods
from . import test_revenue_app_ui
from . import test_time_entry
from . import test_sla
from . import test_timer
from . import test_time_xmlrpc
