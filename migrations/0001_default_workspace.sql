-- Every installation starts with one workspace; the bootstrap admin key acts in it.
INSERT INTO workspaces (id, name) VALUES ('default', 'Default workspace');
