import { Component, onWillDestroy, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { MspTimerClock } from "./msp_timer_clock";

const NOTIFICATION = "atlas_msp_billing.timer";

/** The user's running timer in the navbar; a click opens its task. */
export class MspTimerSystray extends Component {
    static template = "atlas_msp_billing.MspTimerSystray";
    static components = { MspTimerClock };
    static props = {};

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.state = useState({ timer: false });
        // The server notifies each change of the user's timers, from any browser.
        const busService = useService("bus_service");
        const refresh = () => this.load();
        busService.subscribe(NOTIFICATION, refresh);
        onWillDestroy(() => busService.unsubscribe(NOTIFICATION, refresh));
        // Not awaited: the web client does not wait for the systray.
        this.load();
    }

    async load() {
        this.state.timer = await this.orm.silent.call("msp.timer", "systray_get_timer", []);
    }

    get title() {
        return this.state.timer.is_stale
            ? _t("Stale timer on %s: stop it and enter the hours really worked", this.state.timer.task_name)
            : _t("Timer running on %s", this.state.timer.task_name);
    }

    openTask() {
        this.action.doAction({
            type: "ir.actions.act_window",
            res_model: "project.task",
            res_id: this.state.timer.task_id,
            views: [[false, "form"]],
        });
    }
}

registry
    .category("systray")
    .add("atlas_msp_billing.timer", { Component: MspTimerSystray }, { sequence: 30 });
