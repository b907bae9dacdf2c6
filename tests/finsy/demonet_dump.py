"""Print the network a finsy example's net/run.py describes, as JSON (run in the finsy venv).

finsy's demonet numbers switch ports and assigns host addresses when it reads the list
(Config); the test builds the same network from this output with namespaces and veth pairs.
Usage: python demonet_dump.py EXAMPLE/net/run.py
"""

from __future__ import annotations

import importlib.util
import json
import sys

from finsy.test import demonet as dn


def main(path: str) -> None:
    spec = importlib.util.spec_from_file_location("demonet_run", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # Config replaces $DEMONET_IP in commands with this machine's address, where finsy's
    # controller runs outside Mininet's container; the test places the controller itself.
    dn._LOCAL_IP = "$DEMONET_IP"
    config = dn.Config(module.DEMONET)
    items = []
    for item in config.items:
        fields = {k: v for k, v in vars(item).items()
                  if isinstance(v, (str, int, dict, list, tuple)) and not k.startswith("_")}
        fields["directive"] = type(item).__name__
        items.append(fields)
    json.dump(items, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
