import { Component, onWillStart, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { Layout } from "@web/search/layout";
import { formatFloat, formatMonetary } from "@web/views/fields/formatters";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";

/** Revenue > Dashboard: the key figures of msp.revenue.report, with the
 * customers to act on (overage to bill, high usage, invoices to post). */
export class RevenueDashboard extends Component {
    static template = "atlas_msp_billing.RevenueDashboard";
    static components = { Layout };
    static props = { ...standardActionServiceProps };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.state = useState({ data: null });
        onWillStart(() => this.load());
    }

    async load() {
        this.state.data = await this.orm.call("msp.revenue.report", "get_dashboard_data", []);
    }

    get pipeline() {
        const stages = Object.entries(this.state.data.pipeline_mrr_by_stage);
        const max = Math.max(0, ...stages.map(([, amount]) => amount));
        return stages.map(([name, amount]) => ({
            name,
            amount,
            width: max ? (100 * amount) / max : 0,
        }));
    }

    get pipelineTotal() {
        return Object.values(this.state.data.pipeline_mrr_by_stage).reduce((a, b) => a + b, 0);
    }

    money(amount) {
        return formatMonetary(amount, { currencyId: this.state.data.currency_id });
    }

    hours(value) {
        return formatFloat(value, { digits: [16, 2] });
    }

    percent(value) {
        return formatFloat(value, { digits: [16, 0] });
    }

    usageClass(row) {
        if (row.is_overage || row.usage_percent > 100) {
            return "bg-danger";
        }
        return row.usage_percent >= 80 ? "bg-warning" : "bg-success";
    }

    openRetainer(row) {
        this.action.doAction({
            type: "ir.actions.act_window",
            res_model: "msp.retainer",
            res_id: row.retainer_id[0],
            views: [[false, "form"]],
        });
    }

    openRetainers(domain, name) {
        this.action.doAction({
            type: "ir.actions.act_window",
            name,
            res_model: "msp.retainer",
            domain,
            views: [
                [false, "list"],
                [false, "form"],
            ],
        });
    }

    openActiveRetainers() {
        this.openRetainers([["state", "=", "active"]], _t("Active Retainers"));
    }

    openOverageRetainers() {
        this.openRetainers(
            [["id", "in", this.state.data.overage_retainer_ids]],
            _t("Retainers with Overage to Bill")
        );
    }

    async openDraftInvoices() {
        const action = await this.orm.call("msp.revenue.report", "action_open_draft_invoices", []);
        this.action.doAction(action);
    }

    openAnalysis(context = {}) {
        this.action.doAction("atlas_msp_billing.msp_revenue_report_action", {
            additionalContext: context,
        });
    }

    openPipeline() {
        this.action.doAction("crm.crm_lead_action_pipeline");
    }
}

registry.category("actions").add("atlas_msp_billing.revenue_dashboard", RevenueDashboard);
