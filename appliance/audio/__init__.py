"""Audio in and out. Inside the appliance all audio is :data:`format.RATE_HZ` mono 16-bit frames."""
