"""pyserial URL handlers of MeterDesk (``sim://``). ``app.hardware.transport`` registers this
package in ``serial.protocol_handler_packages``."""
