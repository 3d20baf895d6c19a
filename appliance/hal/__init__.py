"""The hardware abstraction layer: one async interface per device class, real drivers
on real transports, and the device supervisor."""
