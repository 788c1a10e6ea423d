from . import msp_retainer_period
from . import msp_retainer
from . import msp_charge
from . import account_analytic_line
from . import account_move
from . import account_move_line
from . import res_partner
