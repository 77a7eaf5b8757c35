"""DL/T 645-2007 (Chinese electricity meters): codec, driver and simulator responder."""

from __future__ import annotations

from app.hardware.dlt645.codec import frame_length
from app.hardware.dlt645.driver import Dlt645Driver, validate_profile
from app.hardware.dlt645.responder import Dlt645Responder
from app.hardware.driver import ProtocolSpec

SPEC = ProtocolSpec(
    name="dlt645-2007",
    validate=validate_profile,
    reply_length=frame_length,
    request_length=frame_length,
    make_driver=Dlt645Driver,
    make_responder=Dlt645Responder,
)

__all__ = ["SPEC"]
