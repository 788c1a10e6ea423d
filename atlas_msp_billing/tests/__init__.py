from . import test_foundation
from . import test_revenue_app_ui
