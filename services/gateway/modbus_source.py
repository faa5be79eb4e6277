"""Modbus TCP source: polls FLOAT32 holding registers at a fixed interval and stamps them with the poll time.

Modbus carries no timestamps, so the source timestamp is when the gateway read the registers. A failed read
becomes a Bad reading (BadNotConnected / BadCommunicationError / BadDeviceFailure) holding the last value read, or
a gap when there is none: never a made-up value. The connection is re-opened on the next poll after a failure.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from services.gateway.codec import decode_float32, engineering_value
from services.gateway.config import GatewayConfig, ModbusConfig, ModbusRegister
from services.gateway.metrics import GatewayMetrics
from services.gateway.opcua_source import LastValues
from services.gateway.readings import BAD_COMMUNICATION_ERROR, BAD_DEVICE_FAILURE, BAD_NOT_CONNECTED, GOOD, Reading
from shared.quality import severity

log = logging.getLogger("baseload.gateway.modbus")
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

Sink = Callable[[Sequence[Reading]], None]


class ModbusSource:
    def __init__(self, config: GatewayConfig, sink: Sink, metrics: GatewayMetrics) -> None:
        assert config.modbus is not None
        self.config: ModbusConfig = config.modbus
        self.sink = sink
        self.metrics = metrics
        self.last = LastValues(config.bad_readings)
        self.client = AsyncModbusTcpClient(
            self.config.host, port=self.config.port, timeout=self.config.timeout_s, retries=0, reconnect_delay=0
        )
        self.connected = False

    async def run(self) -> None:
        interval = self.config.poll_interval_s
        next_poll = time.monotonic()
        try:
            while True:
                readings = await self.poll(datetime.now(UTC))
                self._count(readings)
                if readings:
                    self.sink(readings)
                next_poll += interval
                now = time.monotonic()
                if next_poll < now:  # fell behind (e.g. a slow timeout): skip missed polls rather than burst
                    next_poll = now + interval
                await asyncio.sleep(next_poll - now)
        finally:
            self.client.close()

    async def poll(self, now: datetime) -> list[Reading]:
        """Read every mapped register once; all readings of one poll share its timestamp."""
        if not self.client.connected and not await self._connect():
            return self._bad_all(now, BAD_NOT_CONNECTED)
        readings: list[Reading] = []
        for register in self.config.registers:
            reading = await self._read(register, now)
            if reading is None and not self.client.connected:
                # The connection dropped mid-poll: the rest is not connected either.
                index = self.config.registers.index(register)
                return readings + self._bad_all(now, BAD_NOT_CONNECTED, self.config.registers[index:])
            if reading is not None:
                readings.append(reading)
        return readings

    async def _connect(self) -> bool:
        try:
            connected = bool(await self.client.connect())
        except (OSError, ModbusException) as exc:
            log.debug("Modbus connect failed: %r", exc)
            connected = False
        self._set_connected(connected)
        if not connected:
            log.warning("Modbus device %s:%d unreachable; retrying next poll", self.config.host, self.config.port)
        return connected

    async def _read(self, register: ModbusRegister, now: datetime) -> Reading | None:
        try:
            response = await self.client.read_holding_registers(
                register.address, count=2, device_id=self.config.device_id
            )
        except (ModbusException, OSError, TimeoutError) as exc:
            log.warning("Modbus read of %s failed: %r", register.signal, exc)
            if not self.client.connected:
                self._set_connected(False)
                return None
            return self.last.reading(register.signal, now, None, BAD_COMMUNICATION_ERROR)
        if response.isError():
            log.warning("Modbus device answered %s for %s", response, register.signal)
            return self.last.reading(register.signal, now, None, BAD_DEVICE_FAILURE)
        value = engineering_value(
            decode_float32(response.registers, register.word_order), register.scale, register.offset
        )
        return self.last.reading(register.signal, now, value, GOOD if value is not None else BAD_DEVICE_FAILURE)

    def _set_connected(self, connected: bool) -> None:
        self.connected = connected
        self.metrics.source_connected.labels(source="modbus").set(1 if connected else 0)

    def _bad_all(self, now: datetime, status: int, registers: Sequence[ModbusRegister] | None = None) -> list[Reading]:
        chosen = self.config.registers if registers is None else registers
        return [r for r in (self.last.reading(reg.signal, now, None, status) for reg in chosen) if r is not None]

    def _count(self, readings: Sequence[Reading]) -> None:
        for reading in readings:
            self.metrics.source_readings.labels(source="modbus", quality=severity(reading.quality)).inc()
        gaps = len(self.config.registers) - len(readings)
        if gaps > 0:
            self.metrics.source_gaps.labels(source="modbus").inc(gaps)
