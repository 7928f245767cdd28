"""berth build: Dockerfiles into images on berth's own image store and runtime.

Front end (what a Dockerfile says): dockerfile.py and instructions.py (parser), expand.py
(variables), runmount.py (RUN --mount), ignore.py
(.dockerignore), context.py (getting a context onto disk). Back end (doing it): options.py,
events.py, api.py (the Engine's verbs), stages.py (FROM, ARG, the order of stages), steps.py
(instructions that change the config), run_step.py (RUN), copy_step.py (COPY, ADD),
workspace.py (a step's container and the layer it leaves), cache.py (the build cache).
"""
