"""The RPC benchmark target: the same square as every peer."""

import ss


class Actions(ss.Actions):
    def square(self, n):
        return n * n
