"""Home Assistant's Assist satellite: the speaker as an ESPHome native API device.

Home Assistant connects to it with ``aioesphomeapi``, the client it uses for every ESPHome
device, and finds it over zeroconf (``_esphomelib._tcp``). ``frames`` and ``server`` carry the
API's messages (plaintext or Noise-encrypted); ``device`` answers them: the entities, the voice
sessions, announcements and timers. Everything still works without Home Assistant.
"""
