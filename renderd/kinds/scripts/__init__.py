"""Scripts renderd ships for Blender's own Python (run with `--python FILE`, never imported here).

They are ours, not the spool's: a daemon passes their absolute path inside its package, so
`-Y` keeps the .blend's own Python off while these run.  Each imports `bpy` only inside
`main()`, so this package still imports (and type-checks) without Blender.
"""
