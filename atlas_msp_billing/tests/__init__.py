from . import test_billing
from . import test_foundation
from . import test_periods
from . import test_revenue_app_ui
