import gymnasium
import ast
import json
import heapq


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class DijkstraEnv(gymnasium.Env):
    """Find the shortest distance from source to target in a directed graph with non-negative edge
    weights, where an edge [u, v, w] leads from u to v only. Observe shows n, the edges, the source
    and the target; run Dijkstra's algorithm with InitDistances, ExtractMin, RelaxOutgoing and
    GetDistance and submit the distance as an integer with Done: 0 if source equals target, -1 if
    the target cannot be reached."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.INIT_DISTANCES = 1
        self.EXTRACT_MIN = 2
        self.RELAX_OUTGOING = 3
        self.GET_DISTANCE = 4
        self.DONE = 5
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "InitDistances": self.INIT_DISTANCES,
            "ExtractMin": self.EXTRACT_MIN,
            "RelaxOutgoing": self.RELAX_OUTGOING,
            "GetDistance": self.GET_DISTANCE,
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
        prefix = "DijkstraEnv@"
        if not env_str.startswith(prefix):
            return None
        return DijkstraEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.n = options.get("n", 1)
        # edges: [u, v, w] is a directed edge u -> v of non-negative weight w
        self.edges = [list(e) for e in options.get("edges", [])]
        self.source = options.get("source", 0)
        self.target = options.get("target", 0)
        self.out_edges = [[] for _ in range(self.n)]
        for u, v, w in self.edges:
            self.out_edges[u].append((v, w))
        for lst in self.out_edges:
            lst.sort()
        # working state: tentative distances (None = infinity) and settled flags
        self.dist = None
        self.settled = [False] * self.n
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        best = [None] * self.n
        best[self.source] = 0
        heap = [(0, self.source)]
        while heap:
            d, u = heapq.heappop(heap)
            if d > best[u]:
                continue
            for v, w in self.out_edges[u]:
                nd = d + w
                if best[v] is None or nd < best[v]:
                    best[v] = nd
                    heapq.heappush(heap, (nd, v))
        return -1 if best[self.target] is None else best[self.target]

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
            elif action_code == self.INIT_DISTANCES:
                msg = self.InitDistances()
            elif action_code == self.EXTRACT_MIN:
                msg = self.ExtractMin()
            elif action_code == self.RELAX_OUTGOING:
                if "node" in params:
                    msg = self.RelaxOutgoing(params["node"])
                else:
                    msg = "Error: 'node' parameter is missing for RelaxOutgoing action."
            elif action_code == self.GET_DISTANCE:
                if "node" in params:
                    msg = self.GetDistance(params["node"])
                else:
                    msg = "Error: 'node' parameter is missing for GetDistance action."
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
            raise ValueError(f"node {node} out of range 0..{self.n - 1}")
        return node

    def _require_init(self):
        if self.dist is None:
            raise ValueError("distances have not been initialised, call InitDistances first")

    # --- tools ---
    def Observe(self):
        r"""
        Return the weighted directed graph and the query: nodes are 0..n-1, an edge [u, v, w]
        goes from u to v with non-negative weight w. The shortest distance from "source" to
        "target" is wanted (-1 if target cannot be reached).

        Returns:
            str: JSON object with keys "n", "edges", "source" and "target".

        Example Output:
            "{\"n\": 3, \"edges\": [[0, 1, 4], [0, 2, 1], [2, 1, 2]], \"source\": 0, \"target\": 1}"
        """
        return json.dumps({"n": self.n, "edges": self.edges, "source": self.source, "target": self.target})

    def InitDistances(self):
        r"""
        Start (or restart) Dijkstra's algorithm: the tentative distance of the source becomes 0,
        every other node's becomes infinity (shown as null), and no node is settled.

        Returns:
            str: JSON list of the tentative distances.

        Example Output:
            "[0, null, null]"
        """
        self.dist = [None] * self.n
        self.dist[self.source] = 0
        self.settled = [False] * self.n
        return json.dumps(self.dist)

    def ExtractMin(self):
        r"""
        Pick the unsettled node with the smallest finite tentative distance (ties: smallest
        node number), mark it settled and return it. When no unsettled node has a finite
        distance, node is -1.

        Returns:
            str: JSON object with "node" and "distance" (null when node is -1).

        Example Output:
            "{\"node\": 2, \"distance\": 1}"
        """
        self._require_init()
        best = -1
        for v in range(self.n):
            if self.settled[v] or self.dist[v] is None:
                continue
            if best == -1 or self.dist[v] < self.dist[best]:
                best = v
        if best == -1:
            return json.dumps({"node": -1, "distance": None})
        self.settled[best] = True
        return json.dumps({"node": best, "distance": self.dist[best]})

    def RelaxOutgoing(self, node):
        r"""
        Relax every edge leaving a settled node: for each edge node -> v of weight w,
        set dist[v] = dist[node] + w if that is smaller than the current tentative distance.

        Args:
            node (int): a settled node, 0..n-1.

        Returns:
            str: JSON list of [v, new_distance] pairs for the nodes whose distance improved.

        Example Output:
            "[[1, 3]]"
        """
        self._require_init()
        node = self._check_node(node)
        if not self.settled[node]:
            raise ValueError(f"node {node} is not settled yet, extract it with ExtractMin first")
        improved = []
        for v, w in self.out_edges[node]:
            nd = self.dist[node] + w
            if self.dist[v] is None or nd < self.dist[v]:
                self.dist[v] = nd
                improved.append([v, nd])
        return json.dumps(improved)

    def GetDistance(self, node):
        r"""
        Return the current tentative distance of a node (-1 while it is infinity).

        Args:
            node (int): the node, 0..n-1.

        Returns:
            str: the distance as an integer.

        Example Output:
            "3"
        """
        self._require_init()
        node = self._check_node(node)
        return str(-1 if self.dist[node] is None else self.dist[node])

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): the shortest distance from source to target, or -1 if unreachable.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 3, reference answer: 3, result: correct, reward=1"
        """
        answer = _require_int(answer, "answer")
        ref_answer = self.get_ref_answer()
        correct = answer == ref_answer
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {answer}, reference answer: {ref_answer}"
        return msg + f", result: {'correct' if correct else 'incorrect'}, reward={self._reward}"

    def solve(self):
        r"""Solve the task using only the tools (through self.step with JSON actions) and submit."""
        task = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        target = task["target"]
        self.step(json.dumps({"name": "InitDistances", "parameters": {}}))
        while True:
            picked = json.loads(self.step(json.dumps({"name": "ExtractMin", "parameters": {}}))[1])
            node = picked["node"]
            if node == -1 or node == target:
                break
            self.step(json.dumps({"name": "RelaxOutgoing", "parameters": {"node": node}}))
        distance = int(self.step(json.dumps({"name": "GetDistance", "parameters": {"node": target}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": distance}}))[1]


if __name__ == "__main__":
    env = DijkstraEnv.from_env_str(
        'DijkstraEnv@{"n": 3, "edges": [[0, 1, 4], [0, 2, 1], [2, 1, 2]], "source": 0, "target": 1}'
    )
    print(env.solve())
    print("step count:", env.step_count)
    env = DijkstraEnv.from_env_str('DijkstraEnv@{"n": 3, "edges": [[1, 0, 5]], "source": 0, "target": 2}')
    print(env.solve())
    print("step count:", env.step_count)
