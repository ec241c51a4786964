import gymnasium
import ast
import json
from collections import deque


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


def _require_bool(value, name):
    if not isinstance(value, bool):
        raise ValueError(f"parameter '{name}' must be a boolean (true or false)")
    return value


class BipartiteCheckEnv(gymnasium.Env):
    """Decide whether an undirected graph with nodes 0..n-1 is bipartite: its nodes can be
    coloured with two colours so that every edge joins nodes of different colours (a self-loop [u,
    u] makes this impossible; a graph without edges is bipartite). Observe shows n and the edges;
    explore with GetNeighbors, SetColor and GetColor and submit true or false (a JSON boolean)
    with Done."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.GET_NEIGHBORS = 1
        self.SET_COLOR = 2
        self.GET_COLOR = 3
        self.DONE = 4
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "GetNeighbors": self.GET_NEIGHBORS,
            "SetColor": self.SET_COLOR,
            "GetColor": self.GET_COLOR,
            "Done": self.DONE,
        }
        if env_str is not None:
            options = ast.literal_eval(env_str.split("@", 1)[1])
            self.reset(options)
        else:
            self.reset()

    @property
    def finished(self) -> bool:
        return self._done

    @property
    def reward(self):
        return float(self._reward)

    @staticmethod
    def from_env_str(env_str: str):
        prefix = "BipartiteCheckEnv@"
        if not env_str.startswith(prefix):
            return None
        return BipartiteCheckEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.n = options.get("n", 0)
        self.edges = [list(e) for e in options.get("edges", [])]
        neighbor_sets = [set() for _ in range(self.n)]
        for u, v in self.edges:
            neighbor_sets[u].add(v)
            neighbor_sets[v].add(u)
        self.neighbors = [sorted(s) for s in neighbor_sets]
        # working colouring: -1 = uncoloured, 0 / 1 = the two colours
        self.color = [-1] * self.n
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        color = [-1] * self.n
        for start in range(self.n):
            if color[start] != -1:
                continue
            color[start] = 0
            queue = deque([start])
            while queue:
                u = queue.popleft()
                for v in self.neighbors[u]:
                    if color[v] == -1:
                        color[v] = 1 - color[u]
                        queue.append(v)
                    elif color[v] == color[u]:
                        return False
        return True

    def step(self, action: str):
        self.step_count += 1
        try:
            try:
                call_dict = json.loads(action)
            except (TypeError, ValueError):
                raise ValueError("action is not a valid JSON string")
            if not isinstance(call_dict, dict):
                raise ValueError("action must be a JSON object")
            if "name" not in call_dict:
                raise ValueError("function call doesn't have `name`")
            if "parameters" not in call_dict:
                raise ValueError("function call doesn't have `parameters`")
            action_name = call_dict["name"]
            params = call_dict["parameters"]
            if not isinstance(action_name, str) or action_name not in self.func_mapping:
                raise ValueError(f"Invalid action: {action_name}")
            if not isinstance(params, dict):
                raise ValueError("`parameters` must be a JSON object")
            action_code = self.func_mapping[action_name]

            if action_code == self.OBSERVE:
                msg = self.Observe()
            elif action_code == self.GET_NEIGHBORS:
                if "node" in params:
                    msg = self.GetNeighbors(params["node"])
                else:
                    msg = "Error: 'node' parameter is missing for GetNeighbors action."
            elif action_code == self.SET_COLOR:
                if "node" in params and "color" in params:
                    msg = self.SetColor(params["node"], params["color"])
                else:
                    msg = "Error: 'node' or 'color' parameter is missing for SetColor action."
            elif action_code == self.GET_COLOR:
                if "node" in params:
                    msg = self.GetColor(params["node"])
                else:
                    msg = "Error: 'node' parameter is missing for GetColor action."
            elif action_code == self.DONE:
                if "answer" in params:
                    msg = self.Done(params["answer"])
                else:
                    msg = "Error: 'answer' parameter is missing for Done action."
            else:
                msg = f"Error: Invalid action: {action_name}"
        except Exception as e:
            msg = f"Error: {str(e)}"
        return True, msg

    def _check_node(self, node):
        node = _require_int(node, "node")
        if node < 0 or node >= self.n:
            if self.n == 0:
                raise ValueError("the graph has no nodes")
            raise ValueError(f"node {node} out of range 0..{self.n - 1}")
        return node

    # --- tools ---
    def Observe(self):
        r"""
        Return the undirected graph: nodes are 0..n-1, an edge [u, v] connects u and v
        (an edge [u, u] is a self-loop). The question is whether the nodes can be coloured
        with two colours so that every edge joins nodes of different colours.

        Returns:
            str: JSON object with keys "n" and "edges".

        Example Output:
            "{\"n\": 4, \"edges\": [[0, 1], [1, 2], [2, 3], [3, 0]]}"
        """
        return json.dumps({"n": self.n, "edges": self.edges})

    def GetNeighbors(self, node):
        r"""
        Return the distinct neighbours of a node in increasing order (a node with a
        self-loop is its own neighbour).

        Args:
            node (int): the node, 0..n-1.

        Returns:
            str: JSON list of nodes.

        Example Output:
            "[1, 3]"
        """
        node = self._check_node(node)
        return json.dumps(self.neighbors[node])

    def SetColor(self, node, color):
        r"""
        Give a node colour 0 or 1 (overwriting any previous colour) and report the
        neighbours that now have the same colour as the node, i.e. the edges that break
        the two-colouring.

        Args:
            node (int): the node, 0..n-1.
            color (int): 0 or 1.

        Returns:
            str: JSON object with "node", "color" and "conflicts" (list of neighbours with the same colour).

        Example Output:
            "{\"node\": 2, \"color\": 0, \"conflicts\": []}"
        """
        node = self._check_node(node)
        color = _require_int(color, "color")
        if color not in (0, 1):
            raise ValueError(f"color must be 0 or 1, got {color}")
        self.color[node] = color
        conflicts = [v for v in self.neighbors[node] if self.color[v] == color]
        return json.dumps({"node": node, "color": color, "conflicts": conflicts})

    def GetColor(self, node):
        r"""
        Return the colour currently given to a node: 0, 1, or -1 if it has not been coloured.

        Args:
            node (int): the node, 0..n-1.

        Returns:
            str: the colour as an integer.

        Example Output:
            "-1"
        """
        node = self._check_node(node)
        return str(self.color[node])

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (bool): true if the graph is bipartite (two-colourable), false otherwise.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: True, reference answer: True, result: correct, reward=1"
        """
        answer = _require_bool(answer, "answer")
        ref_answer = self.get_ref_answer()
        correct = answer == ref_answer
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {answer}, reference answer: {ref_answer}"
        return msg + f", result: {'correct' if correct else 'incorrect'}, reward={self._reward}"

    def solve(self):
        r"""Solve the task using only the tools (through self.step with JSON actions) and submit."""
        graph = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        n = graph["n"]
        colored = [-1] * n
        bipartite = True
        for start in range(n):
            if colored[start] != -1 or not bipartite:
                continue
            result = json.loads(self.step(json.dumps(
                {"name": "SetColor", "parameters": {"node": start, "color": 0}}
            ))[1])
            colored[start] = 0
            if result["conflicts"]:
                bipartite = False
                break
            queue = deque([start])
            while queue and bipartite:
                u = queue.popleft()
                neighbors = json.loads(self.step(json.dumps(
                    {"name": "GetNeighbors", "parameters": {"node": u}}
                ))[1])
                for v in neighbors:
                    if colored[v] == -1:
                        result = json.loads(self.step(json.dumps(
                            {"name": "SetColor", "parameters": {"node": v, "color": 1 - colored[u]}}
                        ))[1])
                        colored[v] = 1 - colored[u]
                        if result["conflicts"]:
                            bipartite = False
                            break
                        queue.append(v)
                    elif colored[v] == colored[u]:
                        bipartite = False
                        break
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": bipartite}}))[1]


if __name__ == "__main__":
    env = BipartiteCheckEnv.from_env_str('BipartiteCheckEnv@{"n": 4, "edges": [[0, 1], [1, 2], [2, 3], [3, 0]]}')
    print(env.solve())
    print("step count:", env.step_count)
    env = BipartiteCheckEnv.from_env_str('BipartiteCheckEnv@{"n": 3, "edges": [[0, 1], [1, 2], [2, 0]]}')
    print(env.solve())
    print("step count:", env.step_count)
