from . import msp_billing_run
from . import msp_timer_stop
from . import msp_timesheet_bulk
from . import msp_timesheet_bulk_line
from . import msp_win_onboard
from . import msp_billing_preview
from . import msp_billing_preview_line
