"""The MQTT uplink of the register and telemetry, and the central collector."""
