"""The appliance's hardware and serving loop: GPIO buttons and LEDs, the keyboard
button, systemd notifications, and the loop `assistant run` serves turns in."""
