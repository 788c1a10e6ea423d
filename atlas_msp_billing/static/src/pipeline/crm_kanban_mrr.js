import { patch } from "@web/core/utils/patch";
import { CrmColumnProgress } from "@crm/views/crm_kanban/crm_column_progress";
import { CrmKanbanArchParser } from "@crm/views/crm_kanban/crm_kanban_arch_parser";
import { crmKanbanView } from "@crm/views/crm_kanban/crm_kanban_view";

/* Pipeline columns add up the estimated MRR beside Odoo's expected revenue
 * (never instead of it: opportunities outside the MSP story have no MRR).
 * The kanban's <progressbar msp_mrr_sum_field="..."/> names the field. */
patch(CrmKanbanArchParser.prototype, {
    parseProgressBar(progressBar, fields) {
        const result = super.parseProgressBar(...arguments);
        const name = progressBar.getAttribute("msp_mrr_sum_field");
        result.msp_mrr_sum_field = (name && fields[name]) || false;
        return result;
    },
});

patch(crmKanbanView.Controller.prototype, {
    get progressBarAggregateFields() {
        const fields = super.progressBarAggregateFields;
        const mrrField = this.props.archInfo.progressAttributes?.msp_mrr_sum_field;
        return mrrField ? [...fields, mrrField] : fields;
    },
});

patch(CrmColumnProgress.prototype, {
    getMspMrrAggregate(group) {
        const mrrField = this.props.progressBarState.progressAttributes.msp_mrr_sum_field;
        if (!mrrField) {
            return false;
        }
        return this.props.progressBarState.getAggregateValue(group, mrrField);
    },
});
