"""berth and Kubernetes: a small API client (kubeconfig.py, client.py); the node agent that runs
the pods bound to this host as berth containers (agent.py and the modules it uses); and a
cluster as a connection (cluster.py: kube://CONTEXT), which the dashboard and ``berth kube``
draw from a watch cache (cache.py) and act on (podlogs.py, exec_client.py, usage.py).

Nothing here is imported by any other berth start path: ``berth node run`` and a kube://
connection load it."""
