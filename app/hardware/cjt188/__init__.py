"""CJ/T 188 (water, gas and heat meters): codec, profile options, driver and simulator responder.

``SPEC`` is what ``app.hardware.protocols.protocol_spec("cjt188")`` returns.
"""

from __future__ import annotations

from app.hardware.cjt188.codec import frame_length
from app.hardware.cjt188.driver import Cjt188Driver
from app.hardware.cjt188.options import validate
from app.hardware.cjt188.responder import Cjt188Responder
from app.hardware.driver import ProtocolSpec

SPEC = ProtocolSpec(
    name="cjt188",
    validate=validate,
    reply_length=frame_length,
    request_length=frame_length,
    make_driver=Cjt188Driver,
    make_responder=Cjt188Responder,
)

__all__ = ["SPEC", "Cjt188Driver", "Cjt188Responder"]
