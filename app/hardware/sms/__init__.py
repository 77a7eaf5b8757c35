"""Text messages to tenants through a GSM modem on a serial port, no cloud service.

``pdu`` builds and reads SMS-SUBMIT PDUs (GSM 7-bit or UCS-2 for Chinese, concatenated parts for
long texts); ``modem`` holds the AT dialogue with a real modem (``SmsModem``); ``sim_modem`` is a
simulated modem that answers the same dialogue on a pseudo-terminal or a ``socket://`` peer, for
tests and demos.
"""
