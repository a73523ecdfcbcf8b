"""The Microsoft Graph connector: contacts, calendar and tasks of one mailbox over Graph v1.0."""
