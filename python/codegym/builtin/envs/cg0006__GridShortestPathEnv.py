import gymnasium
import ast
import json
from collections import deque


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class GridShortestPathEnv(gymnasium.Env):
    """Find the length of a shortest path in a grid from the start cell to the target cell, moving
    one cell up, down, left or right per move and never entering a wall ('#'; '.' is open). Observe
    shows the grid (a list of row strings) and the start and target as [row, col]; explore with
    IsOpen and GetNeighbors and submit the number of moves as an integer with Done: 0 if start
    equals target, -1 if the target cannot be reached (also when the start or target cell is a
    wall)."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.IS_OPEN = 1
        self.GET_NEIGHBORS = 2
        self.DONE = 3
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "IsOpen": self.IS_OPEN,
            "GetNeighbors": self.GET_NEIGHBORS,
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
        prefix = "GridShortestPathEnv@"
        if not env_str.startswith(prefix):
            return None
        return GridShortestPathEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        # grid: list of equal-length strings, "." = open cell, "#" = wall
        self.grid = [str(row) for row in options.get("grid", ["."])]
        self.rows = len(self.grid)
        self.cols = len(self.grid[0]) if self.rows else 0
        self.start = list(options.get("start", [0, 0]))
        self.target = list(options.get("target", [self.rows - 1, self.cols - 1]))
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def _open(self, r, c):
        return 0 <= r < self.rows and 0 <= c < self.cols and self.grid[r][c] == "."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        sr, sc = self.start
        tr, tc = self.target
        if not self._open(sr, sc) or not self._open(tr, tc):
            return -1
        dist = {(sr, sc): 0}
        queue = deque([(sr, sc)])
        while queue:
            r, c = queue.popleft()
            if (r, c) == (tr, tc):
                return dist[(r, c)]
            for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                nr, nc = r + dr, c + dc
                if self._open(nr, nc) and (nr, nc) not in dist:
                    dist[(nr, nc)] = dist[(r, c)] + 1
                    queue.append((nr, nc))
        return -1

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
            elif action_code == self.IS_OPEN:
                if "row" in params and "col" in params:
                    msg = self.IsOpen(params["row"], params["col"])
                else:
                    msg = "Error: 'row' or 'col' parameter is missing for IsOpen action."
            elif action_code == self.GET_NEIGHBORS:
                if "row" in params and "col" in params:
                    msg = self.GetNeighbors(params["row"], params["col"])
                else:
                    msg = "Error: 'row' or 'col' parameter is missing for GetNeighbors action."
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

    def _check_cell(self, row, col):
        row = _require_int(row, "row")
        col = _require_int(col, "col")
        if row < 0 or row >= self.rows:
            raise ValueError(f"row {row} out of range 0..{self.rows - 1}")
        if col < 0 or col >= self.cols:
            raise ValueError(f"col {col} out of range 0..{self.cols - 1}")
        return row, col

    # --- tools ---
    def Observe(self):
        r"""
        Return the grid ("." open, "#" wall), the start cell and the target cell.
        Moves go up, down, left or right by one cell, never into a wall.

        Returns:
            str: JSON object with keys "grid" (list of row strings), "start" and "target" ([row, col]).

        Example Output:
            "{\"grid\": [\"..#\", \"#..\", \"...\"], \"start\": [0, 0], \"target\": [2, 2]}"
        """
        return json.dumps({"grid": self.grid, "start": self.start, "target": self.target})

    def IsOpen(self, row, col):
        r"""
        Tell whether a cell is open (not a wall).

        Args:
            row (int): row index, 0..rows-1.
            col (int): column index, 0..cols-1.

        Returns:
            str: "true" if the cell is open, "false" if it is a wall.

        Example Output:
            "true"
        """
        row, col = self._check_cell(row, col)
        return json.dumps(self._open(row, col))

    def GetNeighbors(self, row, col):
        r"""
        List the open cells adjacent to a cell, in the order up, down, left, right.

        Args:
            row (int): row index, 0..rows-1.
            col (int): column index, 0..cols-1.

        Returns:
            str: JSON list of [row, col] pairs.

        Example Output:
            "[[1, 1], [0, 0]]"
        """
        row, col = self._check_cell(row, col)
        result = []
        for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            if self._open(row + dr, col + dc):
                result.append([row + dr, col + dc])
        return json.dumps(result)

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): the number of moves on a shortest path from start to target, or -1 if unreachable.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 4, reference answer: 4, result: correct, reward=1"
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
        start = tuple(task["start"])
        target = tuple(task["target"])
        answer = -1
        start_open = json.loads(self.step(json.dumps(
            {"name": "IsOpen", "parameters": {"row": start[0], "col": start[1]}}
        ))[1])
        target_open = start_open and json.loads(self.step(json.dumps(
            {"name": "IsOpen", "parameters": {"row": target[0], "col": target[1]}}
        ))[1])
        if start_open and target_open:
            if start == target:
                answer = 0
            else:
                dist = {start: 0}
                queue = deque([start])
                while queue and answer == -1:
                    cell = queue.popleft()
                    neighbors = json.loads(self.step(json.dumps(
                        {"name": "GetNeighbors", "parameters": {"row": cell[0], "col": cell[1]}}
                    ))[1])
                    for nb in neighbors:
                        nb = tuple(nb)
                        if nb in dist:
                            continue
                        dist[nb] = dist[cell] + 1
                        if nb == target:
                            answer = dist[nb]
                            break
                        queue.append(nb)
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": answer}}))[1]


if __name__ == "__main__":
    env = GridShortestPathEnv.from_env_str(
        'GridShortestPathEnv@{"grid": ["..#", "#..", "..."], "start": [0, 0], "target": [2, 2]}'
    )
    print(env.solve())
    print("step count:", env.step_count)
    env = GridShortestPathEnv.from_env_str(
        'GridShortestPathEnv@{"grid": [".#", "#."], "start": [0, 0], "target": [1, 1]}'
    )
    print(env.solve())
    print("step count:", env.step_count)
