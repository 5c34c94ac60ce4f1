"""A test double of MISP's REST contract (not MISP) for the Ansible modules' tests."""
