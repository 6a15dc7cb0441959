"""Safety before rules: service addresses can never leave this machine.

A ClusterIP is a *virtual* address: no interface owns it and only our DNAT rules give it a
meaning.  Between the moment a Service exists and the moment its rules are in the kernel —
or forever, if a rule is missing — a packet to it would follow the default route out of the
host.  So before any rule is programmed the proxy *traps* the address ranges it will use:

1. a bridge with no ports (``ip link add minik-trap type bridge``) is created and set up,
   and the service CIDR plus every LoadBalancer / external IP that is not a local address is
   routed to it (``ip route replace 10.96.0.0/12 dev minik-trap``).  A packet routed there
   goes nowhere.  (An ``unreachable`` route would be simpler but breaks host → ClusterIP:
   the routing decision for locally generated packets happens *before* nat OUTPUT DNATs
   them, so an unreachable route fails the connect() outright.)
2. each mode adds a REJECT for the same ranges in filter OUTPUT and FORWARD.  Those hooks
   run after DNAT, so they only see packets no service rule claimed: the client gets
   "connection refused" at once instead of a timeout.

NodePorts on 127.0.0.1 need ``net.ipv4.conf.all.route_localnet=1`` (the kernel otherwise
refuses to route a 127/8 source to a pod).  The previous value is written to a state file so
``--cleanup`` — possibly a later process — can put it back.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from minik.proxy.hostexec import CommandError, Runner

log = logging.getLogger(__name__)

ROUTE_LOCALNET = "net.ipv4.conf.all.route_localnet"


@dataclass
class Trap:
    """The port-less bridge, its routes and the route_localnet sysctl."""

    runner: Runner
    service_cidr: str = "10.96.0.0/12"
    bridge: str = "minik-trap"
    state_file: Path = field(default_factory=lambda: Path("/run/minik-proxy/trap.json"))
    _routes: set[str] = field(default_factory=set, init=False)

    def __post_init__(self) -> None:
        if len(self.bridge) > 15:
            raise ValueError(f"trap bridge name {self.bridge!r} is longer than 15 characters")

    # -- state file ------------------------------------------------------------------
    def _state(self) -> dict[str, str]:
        try:
            data = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _save(self, state: dict[str, str]) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(state))

    # -- trap ---------------------------------------------------------------------------
    def local_addresses(self) -> set[str]:
        out = self.runner.run(["ip", "-4", "-o", "addr", "show"])
        return {line.split()[3].split("/")[0] for line in out.splitlines() if len(line.split()) > 3}

    def trapped(self, extra_ips: Iterable[str] = ()) -> list[str]:
        """The destinations to trap: the service CIDR plus non-local, non-covered extra IPs."""
        net = ipaddress.ip_network(self.service_cidr, strict=False)
        extra = {ip for ip in extra_ips if ipaddress.ip_address(ip) not in net}
        if extra:
            extra -= self.local_addresses()
        return [str(net), *(f"{ip}/32" for ip in sorted(extra))]

    def ensure(self, destinations: Iterable[str]) -> None:
        """Create the bridge if needed and route exactly ``destinations`` into it."""
        wanted = set(destinations)
        if not self.runner.ok(["ip", "link", "show", "dev", self.bridge]):
            self.runner.run(["ip", "link", "add", self.bridge, "type", "bridge"])
            self._routes.clear()
        self.runner.run(["ip", "link", "set", self.bridge, "up"])
        for dst in sorted(wanted - self._routes):
            self.runner.run(["ip", "route", "replace", dst, "dev", self.bridge])
        for dst in sorted(self._routes - wanted):
            self.runner.run(["ip", "route", "del", dst, "dev", self.bridge], check=False)
        self._routes = wanted

    def enable_route_localnet(self) -> None:
        state = self._state()
        if ROUTE_LOCALNET not in state:
            state[ROUTE_LOCALNET] = self.runner.read_sysctl(ROUTE_LOCALNET)
            self._save(state)
        self.runner.write_sysctl(ROUTE_LOCALNET, "1")

    def cleanup(self) -> None:
        """Remove the bridge (its routes go with it) and restore route_localnet."""
        if self.runner.ok(["ip", "link", "show", "dev", self.bridge]):
            self.runner.run(["ip", "link", "del", self.bridge])
        self._routes.clear()
        state = self._state()
        if ROUTE_LOCALNET in state:
            try:
                self.runner.write_sysctl(ROUTE_LOCALNET, state[ROUTE_LOCALNET])
            except CommandError as err:
                log.warning("could not restore %s=%s: %s", ROUTE_LOCALNET, state[ROUTE_LOCALNET], err)
        self.state_file.unlink(missing_ok=True)
