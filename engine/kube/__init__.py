"""berth as a Kubernetes node: a small API client (kubeconfig.py, client.py) and the node agent
that runs the pods bound to this host as berth containers (agent.py and the modules it uses).

Nothing here is imported by any other berth start path: ``berth node run`` loads it."""
