"""What the Baseload services truly share: settings, database access, schema, auth and the error envelope."""
