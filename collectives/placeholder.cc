// Replaced by the Communicator implementation.
