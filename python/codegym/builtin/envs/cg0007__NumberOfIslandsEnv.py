import gymnasium
import ast
import json


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class NumberOfIslandsEnv(gymnasium.Env):
    """Count the islands in a hidden 0/1 grid (1 = land, 0 = water), where an island is a maximal
    group of land cells connected horizontally or vertically (not diagonally). Observe gives only
    the grid size; probe cells with IsLand and GetLandNeighbors and submit the number of islands as
    an integer with Done (0 if there is no land)."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.IS_LAND = 1
        self.GET_LAND_NEIGHBORS = 2
        self.DONE = 3
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "IsLand": self.IS_LAND,
            "GetLandNeighbors": self.GET_LAND_NEIGHBORS,
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
        prefix = "NumberOfIslandsEnv@"
        if not env_str.startswith(prefix):
            return None
        return NumberOfIslandsEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        # grid: list of rows, each a list of 0 (water) / 1 (land)
        self.grid = [list(row) for row in options.get("grid", [])]
        self.rows = len(self.grid)
        self.cols = len(self.grid[0]) if self.rows else 0
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def _land(self, r, c):
        return 0 <= r < self.rows and 0 <= c < self.cols and self.grid[r][c] == 1

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        seen = [[False] * self.cols for _ in range(self.rows)]
        count = 0
        for r in range(self.rows):
            for c in range(self.cols):
                if self._land(r, c) and not seen[r][c]:
                    count += 1
                    seen[r][c] = True
                    stack = [(r, c)]
                    while stack:
                        cr, cc = stack.pop()
                        for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                            nr, nc = cr + dr, cc + dc
                            if self._land(nr, nc) and not seen[nr][nc]:
                                seen[nr][nc] = True
                                stack.append((nr, nc))
        return count

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
            elif action_code == self.IS_LAND:
                if "row" in params and "col" in params:
                    msg = self.IsLand(params["row"], params["col"])
                else:
                    msg = "Error: 'row' or 'col' parameter is missing for IsLand action."
            elif action_code == self.GET_LAND_NEIGHBORS:
                if "row" in params and "col" in params:
                    msg = self.GetLandNeighbors(params["row"], params["col"])
                else:
                    msg = "Error: 'row' or 'col' parameter is missing for GetLandNeighbors action."
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
        Return the size of the hidden 0/1 grid (1 = land, 0 = water). Cells are connected
        horizontally and vertically; an island is a maximal connected group of land cells.

        Returns:
            str: JSON object with keys "rows" and "cols".

        Example Output:
            "{\"rows\": 4, \"cols\": 5}"
        """
        return json.dumps({"rows": self.rows, "cols": self.cols})

    def IsLand(self, row, col):
        r"""
        Tell whether a cell is land.

        Args:
            row (int): row index, 0..rows-1.
            col (int): column index, 0..cols-1.

        Returns:
            str: "true" if the cell is land, "false" if water.

        Example Output:
            "true"
        """
        row, col = self._check_cell(row, col)
        return json.dumps(self._land(row, col))

    def GetLandNeighbors(self, row, col):
        r"""
        List the land cells adjacent to a cell, in the order up, down, left, right.

        Args:
            row (int): row index, 0..rows-1.
            col (int): column index, 0..cols-1.

        Returns:
            str: JSON list of [row, col] pairs.

        Example Output:
            "[[0, 1], [1, 0]]"
        """
        row, col = self._check_cell(row, col)
        result = []
        for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            if self._land(row + dr, col + dc):
                result.append([row + dr, col + dc])
        return json.dumps(result)

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): the number of islands.

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
        size = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        rows, cols = size["rows"], size["cols"]
        visited = [[False] * cols for _ in range(rows)]
        islands = 0
        for r in range(rows):
            for c in range(cols):
                if visited[r][c]:
                    continue
                visited[r][c] = True
                is_land = json.loads(self.step(json.dumps(
                    {"name": "IsLand", "parameters": {"row": r, "col": c}}
                ))[1])
                if not is_land:
                    continue
                islands += 1
                stack = [(r, c)]
                while stack:
                    cr, cc = stack.pop()
                    neighbors = json.loads(self.step(json.dumps(
                        {"name": "GetLandNeighbors", "parameters": {"row": cr, "col": cc}}
                    ))[1])
                    for nr, nc in neighbors:
                        if not visited[nr][nc]:
                            visited[nr][nc] = True
                            stack.append((nr, nc))
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": islands}}))[1]


if __name__ == "__main__":
    env = NumberOfIslandsEnv.from_env_str(
        'NumberOfIslandsEnv@{"grid": [[1, 1, 0, 0], [1, 0, 0, 1], [0, 0, 1, 1], [1, 0, 0, 0]]}'
    )
    print(env.solve())
    print("step count:", env.step_count)
