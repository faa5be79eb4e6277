"""OPC UA adapter: one Double variable per signal (NodeId `ns=<idx>;s=<signal>`), written with source timestamps."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import cast

from asyncua import Node, Server, ua

from services.simulator.model import PlantState

NAMESPACE_URI = "urn:baseload:simulator"
logging.getLogger("asyncua").setLevel(logging.WARNING)


class OpcUaPlantServer:
    def __init__(self, host: str, port: int, signals: Sequence[str], plant_name: str = "Plant") -> None:
        self.endpoint = f"opc.tcp://{host}:{port}/baseload/"
        self.signals = tuple(signals)
        self.plant_name = plant_name
        self.namespace_index = 0
        self._server: Server | None = None
        self._nodes: dict[str, Node] = {}

    async def start(self, initial: PlantState, source_ts: datetime) -> None:
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("Baseload plant simulator")
        # NoSecurity on loopback by design, so anonymous clients only: with no signing or encrypting policy on
        # offer, asyncua would warn at every start about certificate and password tokens it cannot protect.
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        server.set_identity_tokens([ua.AnonymousIdentityToken])
        self.namespace_index = await server.register_namespace(NAMESPACE_URI)
        plant = await server.nodes.objects.add_object(self.namespace_index, self.plant_name)
        for signal in self.signals:
            self._nodes[signal] = await plant.add_variable(
                ua.NodeId.from_string(f"ns={self.namespace_index};s={signal}"),
                signal,
                0.0,
                varianttype=ua.VariantType.Double,
            )
        self._server = server
        await self.publish(initial, source_ts)
        await server.start()

    async def publish(self, state: PlantState, source_ts: datetime) -> None:
        """Write every signal's value, status and source timestamp; subscribers are notified by the server."""
        assert self._server is not None
        # asyncua annotates with marker subclasses (UInt32, DateTime) but takes plain values.
        server_ts = cast(ua.DateTime, datetime.now(UTC))
        source = cast(ua.DateTime, source_ts)
        for signal, node in self._nodes.items():
            s = state.samples[signal]
            await self._server.write_attribute_value(
                node.nodeid,
                ua.DataValue(
                    ua.Variant(s.value, ua.VariantType.Double),
                    ua.StatusCode(ua.UInt32(s.status)),
                    SourceTimestamp=source,
                    ServerTimestamp=server_ts,
                ),
            )

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None
