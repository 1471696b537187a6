"""Loading app/server into the API tree: namespaces, privacy, clashes, import errors."""

import pytest

from ss.rpc.api_tree import ApiTreeError, load_api_tree

APP = """
import ss

class Helper:
    def shared_helper(self):
        return "inherited"

class Actions(Helper, ss.Actions):
    def square(self, number):
        return number * number

    def _private(self):
        return "no"

    async def later(self, a, b=2, *rest):
        return a

    def legacy(self, number, cb):
        cb(number)

    LIMIT = 10

    class admin:
        def ban(self, user_id):
            return user_id

        class deep:
            def x(self):
                return 1

    class _hidden:
        def y(self):
            return 2
"""


def test_tree_from_files_folders_and_nested_classes(make_app):
    root = make_app({
        "app/server/app.py": APP,
        "app/server/users/online.py": "import ss\nclass Actions(ss.Actions):\n    def now(self):\n        return []\n",
        "app/server/_internal.py": "raise RuntimeError('private files are not loaded')\n",
    })
    tree = load_api_tree(root / "app" / "server")
    assert tree.describe() == {
        "app": {"shared_helper": 1, "square": 1, "later": 1, "legacy": 1,
                "admin": {"ban": 1, "deep": {"x": 1}}},
        "users": {"online": {"now": 1}},
    }
    assert tree.resolve("app.admin.deep.x").owner.__name__ == "deep"
    assert tree.resolve("app._private") is None and tree.resolve("app._hidden.y") is None


def test_signature_facts(make_app):
    tree = load_api_tree(make_app({"app/server/app.py": APP}) / "app" / "server")
    later = tree.resolve("app.later")
    assert (later.min_args, later.max_args, later.is_async, later.params) == (1, None, True, ("a", "b"))
    legacy = tree.resolve("app.legacy")
    assert legacy.takes_cb and (legacy.min_args, legacy.max_args) == (1, 1)
    assert tree.resolve("app.square").arity_message(2) == "app.square takes 1 argument (number) but 2 were given"


def test_authenticate_flag_is_per_module(make_app):
    root = make_app({
        "app/server/app.py": APP,
        "app/server/admin.py": "import ss\nauthenticate = True\nclass Actions(ss.Actions):\n    def x(self):\n        return 1\n",
    })
    tree = load_api_tree(root / "app" / "server")
    assert tree.resolve("admin.x").authenticate and not tree.resolve("app.square").authenticate


def test_file_and_folder_with_same_name_is_an_error_naming_both(make_app):
    root = make_app({
        "app/server/users.py": "import ss\nclass Actions(ss.Actions):\n    pass\n",
        "app/server/users/online.py": "import ss\nclass Actions(ss.Actions):\n    pass\n",
    })
    with pytest.raises(ApiTreeError) as info:
        load_api_tree(root / "app" / "server")
    message = str(info.value)
    assert "users.py" in message and "users/" in message and "rename one" in message


def test_import_error_names_file_and_line(make_app):
    root = make_app({"app/server/app.py": "import ss\n\nx = 1 / 0\n"})
    with pytest.raises(ApiTreeError, match=r"app\.py:3: ZeroDivisionError"):
        load_api_tree(root / "app" / "server")


def test_syntax_error_names_file_and_line(make_app):
    root = make_app({"app/server/app.py": "import ss\nclass Actions(ss.Actions)\n    pass\n"})
    with pytest.raises(ApiTreeError, match=r"app\.py:2: SyntaxError"):
        load_api_tree(root / "app" / "server")


def test_file_without_actions_class_is_an_error(make_app):
    root = make_app({"app/server/util.py": "def helper():\n    return 1\n"})
    with pytest.raises(ApiTreeError, match="defines no `class Actions"):
        load_api_tree(root / "app" / "server")


def test_lib_server_is_importable(make_app):
    root = make_app({
        "lib/server/mylib_for_tree_test.py": "VALUE = 42\n",
        "app/server/app.py": "import ss, mylib_for_tree_test\nclass Actions(ss.Actions):\n"
                             "    def v(self):\n        return mylib_for_tree_test.VALUE\n",
    })
    tree = load_api_tree(root / "app" / "server", root / "lib" / "server")
    assert tree.resolve("app.v") is not None
