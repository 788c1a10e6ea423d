from werkzeug.exceptions import NotFound

from odoo import http
from odoo.exceptions import AccessError, MissingError
from odoo.http import content_disposition, request

from odoo.addons.portal.controllers.portal import CustomerPortal

from ..models.account_move import TIME_SCHEDULE_REPORT


class MspInvoicePortal(CustomerPortal):
    @http.route(
        "/my/invoices/<int:invoice_id>/time_schedule", type="http", auth="public", website=True
    )
    def portal_my_invoice_time_schedule(self, invoice_id, access_token=None, download=False):
        """The time schedule of an invoice the customer may see (its own, or
        through the invoice's access token), when the invoice comes with one."""
        try:
            invoice_sudo = self._document_check_access("account.move", invoice_id, access_token)
        except (AccessError, MissingError):
            return request.redirect("/my")
        if not invoice_sudo.msp_attach_time_schedule:
            raise NotFound()
        response = self._show_report(
            model=invoice_sudo,
            report_type="pdf",
            report_ref=TIME_SCHEDULE_REPORT,
            download=download,
        )
        if download:
            # Named as in the invoice mail, not after the invoice PDF itself.
            response.headers["Content-Disposition"] = content_disposition(
                invoice_sudo._msp_time_schedule_filename()
            )
        return response
