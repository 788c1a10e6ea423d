import { Component, onMounted, onWillUnmount, onWillUpdateProps, useState } from "@odoo/owl";
import { browser } from "@web/core/browser/browser";

export function formatTimerSeconds(seconds) {
    const hours = Math.floor(seconds / 3600);
    const minutes = String(Math.floor((seconds % 3600) / 60)).padStart(2, "0");
    const secs = String(seconds % 60).padStart(2, "0");
    return `${hours}:${minutes}:${secs}`;
}

/**
 * A timer's time, ticking every second while it runs. It counts on from the
 * seconds the server computed when it read the timer (not from the browser's
 * clock, which may be off), so a reload or another browser shows the same time.
 */
export class MspTimerClock extends Component {
    static template = "atlas_msp_billing.MspTimerClock";
    static props = {
        seconds: Number,
        running: Boolean,
        className: { type: String, optional: true },
    };

    setup() {
        this.state = useState({ now: Date.now() });
        this.readAt = Date.now();
        onWillUpdateProps((nextProps) => {
            if (
                nextProps.seconds !== this.props.seconds ||
                nextProps.running !== this.props.running
            ) {
                this.readAt = Date.now();
                this.state.now = this.readAt;
            }
        });
        let interval;
        onMounted(() => {
            interval = browser.setInterval(() => (this.state.now = Date.now()), 1000);
        });
        onWillUnmount(() => browser.clearInterval(interval));
    }

    get seconds() {
        if (!this.props.running) {
            return this.props.seconds;
        }
        return this.props.seconds + Math.max(0, Math.floor((this.state.now - this.readAt) / 1000));
    }

    get formatted() {
        return formatTimerSeconds(this.seconds);
    }
}
