"""The AWS SNS collector (a functions-framework HTTP function): verified SNS deliveries routed by `?route=`."""
