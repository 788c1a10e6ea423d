#!/usr/bin/env python3
"""Odoo's ``odoo-bin`` for the servers of make stress-servers and make load.

In prefork mode Odoo's master starts its websocket process as
``<argv[0]> gevent …``, and starts it again whenever it ends. Where gevent
cannot start (its monkey-patching plugins need ``zope.interface``, which
not every installation has), that process dies at once and is started again
in a loop that takes a whole core from the measurements. Then this launcher
keeps an idle process in its place until the server stops: the pages and
RPC calls the tools request do not use the websocket.
"""

import os
import signal
import sys

# As odoo-bin: the server's time zone is UTC.
os.environ["TZ"] = "UTC"

if __name__ == "__main__":
    if sys.argv[1:2] == ["gevent"]:
        try:
            import odoo
        except Exception as error:  # any reason gevent cannot start
            print(f"websocket process unavailable ({error}); idle instead", file=sys.stderr)
            while True:
                signal.pause()  # until the server's process group is stopped
    import odoo

    odoo.cli.main()
