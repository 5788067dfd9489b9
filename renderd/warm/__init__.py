"""The warm Blender (renderd --warm): one Blender per .blend per slot, reused chunk after chunk.

`channel.py` is the daemon's end of the socket a warm Blender's runner script talks on;
`pool.py` decides which warm Blender renders a chunk, starts and replaces them through the
spawner (so each is a launcher's program: idle priority, its own process group, killed with
the daemon), and turns their answers into the `started`/`exited` messages every run ends by.
"""
