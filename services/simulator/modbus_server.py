"""Modbus TCP adapter on pymodbus's SimDevice: the register image is refreshed from the model on every read.

pymodbus 3.16's old datastore contexts are deprecated (and `async_setValues` on them silently does nothing), so the
values come in through SimDevice's `action` callback, which may rewrite the registers before they are returned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from services.simulator.model import GOOD, PlantState
from services.simulator.registers import fill_registers, register_count, register_map, slots_touched

logging.getLogger("pymodbus").setLevel(logging.WARNING)


class ModbusPlantServer:
    def __init__(
        self, host: str, port: int, device_id: int, current_state: Callable[[], PlantState], signals: tuple[str, ...]
    ) -> None:
        self.address = (host, port)
        self.device_id = device_id
        self.current_state = current_state
        self.signals = signals
        self.slots = register_map(signals)
        self._server: ModbusTcpServer | None = None

    async def start(self) -> None:
        block = SimData(0, count=register_count(self.signals), values=0, datatype=DataType.REGISTERS, readonly=True)
        device = SimDevice(id=self.device_id, simdata=[block], action=self._action)
        self._server = ModbusTcpServer(device, address=self.address)
        await self._server.serve_forever(background=True)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()
            self._server = None

    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if set_values is not None:
            return ExcCodes.ILLEGAL_FUNCTION
        state = self.current_state()
        touched = slots_touched(self.slots, address - start_address, count)
        if any(state.samples[s.signal].status != GOOD for s in touched):
            # A failed sensor: the device answers with an exception, as a real transmitter input card would.
            return ExcCodes.DEVICE_FAILURE
        fill_registers(registers, {s: state.samples[s].value for s in self.signals}, touched)
        return None
