"""Each client's own script on the operator's card: the steps, the typed answers kept as
fields of the call, and the end each way through the script leads to."""
