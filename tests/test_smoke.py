def test_home_both_renders(client):
    full = client.get("/")
    assert full.status_code == 200 and b"<html" in full.data
    frag = client.get("/", headers={"HX-Request": "true"})
    assert frag.status_code == 200 and b"<html" not in frag.data
    assert "HX-Request" in frag.headers["Vary"]


def test_login_works(logged_in):
    assert b"alice" in logged_in.get("/").data
