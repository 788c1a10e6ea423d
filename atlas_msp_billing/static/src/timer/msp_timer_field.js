import { Component } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { standardFieldProps } from "@web/views/fields/standard_field_props";
import { MspTimerClock } from "./msp_timer_clock";

/** Live time of a timer: an integer field of elapsed seconds, next to a
 * selection field telling whether the timer runs. */
export class MspTimerField extends Component {
    static template = "atlas_msp_billing.MspTimerField";
    static components = { MspTimerClock };
    static props = {
        ...standardFieldProps,
        stateField: String,
    };

    get running() {
        return this.props.record.data[this.props.stateField] === "running";
    }

    get seconds() {
        return this.props.record.data[this.props.name] || 0;
    }

    get title() {
        return this.running ? _t("Timer running") : _t("Timer paused");
    }
}

function stateField(options) {
    return options.state_field || "msp_timer_state";
}

export const mspTimerField = {
    component: MspTimerField,
    displayName: _t("Live Timer"),
    supportedTypes: ["integer"],
    supportedOptions: [
        {
            label: _t("State field"),
            name: "state_field",
            type: "string",
            help: _t("Selection field whose value is 'running' while the timer runs"),
        },
    ],
    fieldDependencies: ({ options }) => [{ name: stateField(options), type: "selection" }],
    extractProps: ({ options }) => ({ stateField: stateField(options) }),
};

registry.category("fields").add("msp_timer", mspTimerField);
