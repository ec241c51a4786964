import gymnasium
import ast
import json


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class UniquePathsWithObstaclesEnv(gymnasium.Env):
    """Count the paths through a grid from the top-left cell to the bottom-right cell that move
    only right or down and never enter an obstacle (0 = free, 1 = obstacle). Observe shows the
    grid; fill in path counts cell by cell with ComputeCell, read them with GetPaths and submit the
    count as an integer with Done (0 if the start or end cell is an obstacle, 1 for a single free
    cell)."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.COMPUTE_CELL = 1
        self.GET_PATHS = 2
        self.DONE = 3
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "ComputeCell": self.COMPUTE_CELL,
            "GetPaths": self.GET_PATHS,
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
        prefix = "UniquePathsWithObstaclesEnv@"
        if not env_str.startswith(prefix):
            return None
        return UniquePathsWithObstaclesEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        # grid: list of rows, each a list of 0 (free) / 1 (obstacle)
        self.grid = [list(row) for row in options.get("grid", [])]
        self.rows = len(self.grid)
        self.cols = len(self.grid[0]) if self.rows else 0
        # paths[r][c] = number of right/down paths from (0, 0) to (r, c); None until computed
        self.paths = [[None] * self.cols for _ in range(self.rows)]
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        if self.rows == 0 or self.cols == 0:
            return 0
        count = [0] * self.cols
        for r in range(self.rows):
            for c in range(self.cols):
                if self.grid[r][c] == 1:
                    count[c] = 0
                elif r == 0 and c == 0:
                    count[c] = 1
                elif c > 0:
                    count[c] += count[c - 1]
        return count[self.cols - 1]

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
            elif action_code == self.COMPUTE_CELL:
                if "row" in params and "col" in params:
                    msg = self.ComputeCell(params["row"], params["col"])
                else:
                    msg = "Error: 'row' or 'col' parameter is missing for ComputeCell action."
            elif action_code == self.GET_PATHS:
                if "row" in params and "col" in params:
                    msg = self.GetPaths(params["row"], params["col"])
                else:
                    msg = "Error: 'row' or 'col' parameter is missing for GetPaths action."
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
        Return the grid (0 = free cell, 1 = obstacle). A robot starts in the top-left cell
        (0, 0) and moves only right or down to the bottom-right cell, never entering an
        obstacle; the number of distinct such paths is wanted.

        Returns:
            str: JSON object with keys "rows", "cols" and "grid".

        Example Output:
            "{\"rows\": 3, \"cols\": 3, \"grid\": [[0, 0, 0], [0, 1, 0], [0, 0, 0]]}"
        """
        return json.dumps({"rows": self.rows, "cols": self.cols, "grid": self.grid})

    def ComputeCell(self, row, col):
        r"""
        Compute the number of paths from (0, 0) to a cell: 0 for an obstacle, 1 for a free
        start cell, otherwise paths(row - 1, col) + paths(row, col - 1) (neighbours outside
        the grid count 0). The cell above and the cell to the left (when inside the grid)
        must already be computed, so go row by row, left to right.

        Args:
            row (int): row index, 0..rows-1.
            col (int): column index, 0..cols-1.

        Returns:
            str: the number of paths reaching the cell.

        Example Output:
            "2"
        """
        row, col = self._check_cell(row, col)
        if row > 0 and self.paths[row - 1][col] is None:
            raise ValueError(f"cell ({row - 1}, {col}) above must be computed first")
        if col > 0 and self.paths[row][col - 1] is None:
            raise ValueError(f"cell ({row}, {col - 1}) to the left must be computed first")
        if self.grid[row][col] == 1:
            value = 0
        elif row == 0 and col == 0:
            value = 1
        else:
            value = 0
            if row > 0:
                value += self.paths[row - 1][col]
            if col > 0:
                value += self.paths[row][col - 1]
        self.paths[row][col] = value
        return str(value)

    def GetPaths(self, row, col):
        r"""
        Read the already computed number of paths from (0, 0) to a cell.

        Args:
            row (int): row index, 0..rows-1.
            col (int): column index, 0..cols-1.

        Returns:
            str: the number of paths reaching the cell.

        Example Output:
            "6"
        """
        row, col = self._check_cell(row, col)
        if self.paths[row][col] is None:
            raise ValueError(f"cell ({row}, {col}) has not been computed yet")
        return str(self.paths[row][col])

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): the number of paths from the top-left to the bottom-right cell.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 2, reference answer: 2, result: correct, reward=1"
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
        rows, cols = task["rows"], task["cols"]
        if rows == 0 or cols == 0:
            return self.step(json.dumps({"name": "Done", "parameters": {"answer": 0}}))[1]
        for r in range(rows):
            for c in range(cols):
                self.step(json.dumps({"name": "ComputeCell", "parameters": {"row": r, "col": c}}))
        result = int(self.step(json.dumps(
            {"name": "GetPaths", "parameters": {"row": rows - 1, "col": cols - 1}}
        ))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": result}}))[1]


if __name__ == "__main__":
    env = UniquePathsWithObstaclesEnv.from_env_str(
        'UniquePathsWithObstaclesEnv@{"grid": [[0, 0, 0], [0, 1, 0], [0, 0, 0]]}'
    )
    print(env.solve())
    print("step count:", env.step_count)
    env = UniquePathsWithObstaclesEnv.from_env_str('UniquePathsWithObstaclesEnv@{"grid": [[0, 1], [0, 0]]}')
    print(env.solve())
    print("step count:", env.step_count)
