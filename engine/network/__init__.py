"""The container networks: IPAM, bridges and veths, NAT and published ports, hosts files."""
