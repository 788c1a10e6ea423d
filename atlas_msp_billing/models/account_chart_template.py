from odoo import models


class AccountChartTemplate(models.AbstractModel):
    _inherit = "account.chart.template"

    def _load(self, template_code, company, install_demo):
        # Only a chart loaded for the first time on a company completes the
        # products: reloading it (or an add-on replaying its post-load step)
        # must not put back a sales tax a user removed.
        first_load = company.chart_template != template_code
        chart = self.with_context(msp_complete_sale_taxes=first_load)
        return super(AccountChartTemplate, chart)._load(template_code, company, install_demo)

    def _post_load_data(self, template_code, company, template_data):
        result = super()._post_load_data(template_code, company, template_data)
        # Odoo adds the new company's default tax only to products already taxed
        # in another company. On a new database the chart is loaded after every
        # module's data, so the billing products exist untaxed: complete them.
        if self.env.context.get("msp_complete_sale_taxes"):
            company = company or self.env.company
            self.env["product.template"]._msp_complete_sale_taxes(company)
        return result
