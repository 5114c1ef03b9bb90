"""GTP: the line transport and session (``transport``), the engine's commands (``engine``), analysis
streaming for GUIs (``analysis``), and a client for other engines such as GNU Go (``client``)."""
