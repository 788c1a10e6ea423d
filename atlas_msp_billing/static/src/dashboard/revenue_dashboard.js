import { Component, onWillStart, onWillUnmount, useEffect, useRef, useState } from "@odoo/owl";
import { loadBundle } from "@web/core/assets";
import { deserializeDate } from "@web/core/l10n/dates";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { Layout } from "@web/search/layout";
import { formatFloat, formatFloatTime, formatMonetary } from "@web/views/fields/formatters";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";

const REPORT = "msp.revenue.report";
// Bootstrap's success, light green, orange and danger: gains green, losses red.
const MOVEMENT_COLORS = {
    new: "#28a745",
    expansion: "#8bc34a",
    contraction: "#fd7e14",
    churn: "#dc3545",
};
const MRR_COLOR = "#017e84";

/** Revenue > Dashboard: the key figures of msp.revenue.report, the MRR timeline
 * with its movements, and the customers to act on (overage to bill, high usage,
 * invoices to post). Every figure opens the records behind it, through an action
 * the server builds. */
export class RevenueDashboard extends Component {
    static template = "atlas_msp_billing.RevenueDashboard";
    static components = { Layout };
    static props = { ...standardActionServiceProps };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.state = useState({ data: null });
        this.canvasRef = useRef("timeline");
        this.chart = null;
        onWillStart(() => Promise.all([loadBundle("web.chartjs_lib"), this.load()]));
        useEffect(
            () => this.renderTimeline(),
            () => [this.state.data]
        );
        onWillUnmount(() => this.chart?.destroy());
    }

    async load() {
        this.state.data = await this.orm.call(REPORT, "get_dashboard_data", []);
    }

    /** Opens the records behind a figure: the server's action_open_<figure>. */
    async open(figure, ...args) {
        this.action.doAction(await this.orm.call(REPORT, `action_open_${figure}`, args));
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

    get overageRetainers() {
        const count = this.state.data.overage_retainer_ids.length;
        return count === 1 ? _t("1 retainer") : _t("%s retainers", count);
    }

    get pendingCharges() {
        const count = this.state.data.pending_charges.count;
        return count === 1 ? _t("1 charge") : _t("%s charges", count);
    }

    money(amount) {
        return formatMonetary(amount, { currencyId: this.state.data.currency_id });
    }

    hours(value) {
        // HH:MM, as hours read everywhere else in Odoo and in the add-on.
        return formatFloatTime(value);
    }

    percent(value) {
        return formatFloat(value, { digits: [16, 0] });
    }

    usageClass(row) {
        const { warning, overage } = this.state.data.usage_thresholds;
        if (row.is_overage || row.usage_percent > overage) {
            return "bg-danger";
        }
        return row.usage_percent >= warning ? "bg-warning" : "bg-success";
    }

    // ------------------------------------------------------------------
    // MRR timeline
    // ------------------------------------------------------------------
    get movementLabels() {
        return {
            mrr: _t("MRR"),
            new: _t("New"),
            expansion: _t("Expansion"),
            contraction: _t("Contraction"),
            churn: _t("Churn"),
        };
    }

    renderTimeline() {
        this.chart?.destroy();
        this.chart = null;
        if (!this.canvasRef.el) {
            return;
        }
        const months = this.state.data.mrr_timeline;
        const labels = this.movementLabels;
        const bars = Object.entries(MOVEMENT_COLORS).map(([movement, color]) => ({
            type: "bar",
            movement,
            label: labels[movement],
            data: months.map((month) => month[movement]),
            backgroundColor: color,
            stack: "movements",
            yAxisID: "movements",
            order: 1,
        }));
        const line = {
            type: "line",
            movement: "mrr",
            label: labels.mrr,
            data: months.map((month) => month.mrr),
            borderColor: MRR_COLOR,
            backgroundColor: MRR_COLOR,
            yAxisID: "mrr",
            // Monotone: the curve never dips below a month's MRR.
            cubicInterpolationMode: "monotone",
            order: 0,
        };
        this.chart = new Chart(this.canvasRef.el, {
            data: {
                labels: months.map((month) => deserializeDate(month.month).toFormat("MMM yyyy")),
                datasets: [line, ...bars],
            },
            options: this.timelineOptions(months),
        });
    }

    /** Bounds of the MRR and movements axes, so that both put zero at the same
     * height: each axis reaches as far below zero, in proportion, as the one
     * that reaches furthest (churn and contraction are negative). */
    timelineBounds(months) {
        // The bars stack: gains above zero, losses below.
        const movements = months.flatMap((month) => [
            month.new + month.expansion,
            month.contraction + month.churn,
        ]);
        const bounds = {
            mrr: { max: Math.max(1, ...months.map((month) => month.mrr)) },
            movements: { max: Math.max(1, ...movements) },
        };
        const below = Math.max(0, ...movements.map((amount) => -amount / bounds.movements.max));
        for (const axis of Object.values(bounds)) {
            axis.max *= 1.05;
            axis.min = -below * axis.max;
        }
        return bounds;
    }

    timelineOptions(months) {
        const tick = (value) =>
            formatMonetary(value, { currencyId: this.state.data.currency_id, digits: [69, 0] });
        const bounds = this.timelineBounds(months);
        return {
            maintainAspectRatio: false,
            interaction: { mode: "nearest", intersect: true },
            scales: {
                x: { stacked: true },
                mrr: {
                    ...bounds.mrr,
                    position: "left",
                    title: { display: true, text: _t("MRR") },
                    // MRR is never negative: no ticks below zero.
                    ticks: {
                        callback: (value) => (value < 0 ? "" : tick(value)),
                        includeBounds: false,
                    },
                },
                movements: {
                    ...bounds.movements,
                    position: "right",
                    stacked: true,
                    title: { display: true, text: _t("Movements") },
                    ticks: { callback: tick, includeBounds: false },
                    grid: { drawOnChartArea: false },
                },
            },
            plugins: {
                legend: { position: "bottom" },
                tooltip: {
                    callbacks: {
                        label: (item) => `${item.dataset.label}: ${this.money(item.parsed.y)}`,
                    },
                },
            },
            onHover: (event, elements) => {
                event.native.target.style.cursor = elements.length ? "pointer" : "default";
            },
            onClick: (event, elements) => {
                if (elements.length) {
                    const { datasetIndex, index } = elements[0];
                    const movement = this.chart.data.datasets[datasetIndex].movement;
                    this.open("mrr_movement", months[index].month, movement);
                }
            },
        };
    }

    openAnalysis(context = {}) {
        this.action.doAction("atlas_msp_billing.msp_revenue_report_action", {
            additionalContext: context,
        });
    }

    openRetainer(row) {
        this.action.doAction({
            type: "ir.actions.act_window",
            res_model: "msp.retainer",
            res_id: row.retainer_id[0],
            views: [[false, "form"]],
        });
    }

    openPipeline() {
        this.action.doAction("crm.crm_lead_action_pipeline");
    }
}

registry.category("actions").add("atlas_msp_billing.revenue_dashboard", RevenueDashboard);
