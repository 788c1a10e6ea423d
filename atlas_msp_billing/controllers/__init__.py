from . import portal
from . import invoice_portal
