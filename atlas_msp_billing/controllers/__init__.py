from . import portal
from . import invoice_portal
from . import ticket_portal
