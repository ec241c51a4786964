import gymnasium
import ast
import json

SIDES = ("top", "right", "bottom", "left")


class SpiralOrderEnv(gymnasium.Env):
    """List all elements of a matrix in clockwise spiral order from the top-left corner: top row
    left to right, right column downwards, bottom row right to left, left column upwards, then the
    inner part the same way. Observe shows the matrix; peel sides off with TakeSide (GetRemaining
    and GetCollected show progress) and submit the elements with Done as a JSON list of integers
    ([] for an empty matrix)."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.TAKE_SIDE = 1
        self.GET_REMAINING = 2
        self.GET_COLLECTED = 3
        self.DONE = 4
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "TakeSide": self.TAKE_SIDE,
            "GetRemaining": self.GET_REMAINING,
            "GetCollected": self.GET_COLLECTED,
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
        prefix = "SpiralOrderEnv@"
        if not env_str.startswith(prefix):
            return None
        return SpiralOrderEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.matrix = [list(row) for row in options.get("matrix", [])]
        self.rows = len(self.matrix)
        self.cols = len(self.matrix[0]) if self.rows else 0
        # the part not yet taken is matrix[top..bottom][left..right] (inclusive bounds)
        self.top, self.bottom = 0, self.rows - 1
        self.left, self.right = 0, self.cols - 1
        self.collected = []
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def _remaining_empty(self):
        return self.top > self.bottom or self.left > self.right

    def _remaining_info(self):
        if self._remaining_empty():
            return {"remaining_rows": 0, "remaining_cols": 0}
        return {"remaining_rows": self.bottom - self.top + 1, "remaining_cols": self.right - self.left + 1}

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        out = []
        top, bottom, left, right = 0, self.rows - 1, 0, self.cols - 1
        while top <= bottom and left <= right:
            for c in range(left, right + 1):
                out.append(self.matrix[top][c])
            top += 1
            for r in range(top, bottom + 1):
                out.append(self.matrix[r][right])
            right -= 1
            if top <= bottom:
                for c in range(right, left - 1, -1):
                    out.append(self.matrix[bottom][c])
                bottom -= 1
            if left <= right:
                for r in range(bottom, top - 1, -1):
                    out.append(self.matrix[r][left])
                left += 1
        return out

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
            elif action_code == self.TAKE_SIDE:
                if "side" in params:
                    msg = self.TakeSide(params["side"])
                else:
                    msg = "Error: 'side' parameter is missing for TakeSide action."
            elif action_code == self.GET_REMAINING:
                msg = self.GetRemaining()
            elif action_code == self.GET_COLLECTED:
                msg = self.GetCollected()
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

    # --- tools ---
    def Observe(self):
        r"""
        Return the matrix whose elements are wanted in spiral order: clockwise starting at the
        top-left corner (top row left to right, right column downwards, bottom row right to
        left, left column upwards, then the same for the inner part, and so on).

        Returns:
            str: JSON object with keys "rows", "cols" and "matrix" (list of rows).

        Example Output:
            "{\"rows\": 2, \"cols\": 3, \"matrix\": [[1, 2, 3], [4, 5, 6]]}"
        """
        return json.dumps({"rows": self.rows, "cols": self.cols, "matrix": self.matrix})

    def TakeSide(self, side):
        r"""
        Peel one side off the part of the matrix not taken yet and append its elements to the
        collected list: "top" = top row left to right, "right" = right column top to bottom,
        "bottom" = bottom row right to left, "left" = left column bottom to top. The remaining
        part shrinks by that row or column.

        Args:
            side (str): one of "top", "right", "bottom", "left".

        Returns:
            str: JSON object with the elements "taken" and the size left over
                 ("remaining_rows", "remaining_cols"; both 0 once everything is taken).

        Example Output:
            "{\"taken\": [1, 2, 3], \"remaining_rows\": 1, \"remaining_cols\": 3}"
        """
        if not isinstance(side, str) or side not in SIDES:
            raise ValueError(f"parameter 'side' must be one of {', '.join(SIDES)}")
        if self._remaining_empty():
            raise ValueError("nothing is left to take: every element has been collected")
        if side == "top":
            taken = [self.matrix[self.top][c] for c in range(self.left, self.right + 1)]
            self.top += 1
        elif side == "right":
            taken = [self.matrix[r][self.right] for r in range(self.top, self.bottom + 1)]
            self.right -= 1
        elif side == "bottom":
            taken = [self.matrix[self.bottom][c] for c in range(self.right, self.left - 1, -1)]
            self.bottom -= 1
        else:
            taken = [self.matrix[r][self.left] for r in range(self.bottom, self.top - 1, -1)]
            self.left += 1
        self.collected.extend(taken)
        result = {"taken": taken}
        result.update(self._remaining_info())
        return json.dumps(result)

    def GetRemaining(self):
        r"""
        Return the part of the matrix that has not been taken yet.

        Returns:
            str: JSON object with "remaining_rows", "remaining_cols" and "matrix" (the remaining rows).

        Example Output:
            "{\"remaining_rows\": 1, \"remaining_cols\": 2, \"matrix\": [[4, 5]]}"
        """
        result = self._remaining_info()
        if self._remaining_empty():
            result["matrix"] = []
        else:
            result["matrix"] = [
                self.matrix[r][self.left:self.right + 1] for r in range(self.top, self.bottom + 1)
            ]
        return json.dumps(result)

    def GetCollected(self):
        r"""
        Return all elements collected so far by TakeSide, in the order they were taken.

        Returns:
            str: JSON list of the collected elements.

        Example Output:
            "[1, 2, 3, 6, 5, 4]"
        """
        return json.dumps(self.collected)

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (list[int]): all matrix elements in spiral order ([] for an empty matrix).

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: [1, 2, 3, 6, 5, 4], reference answer: [1, 2, 3, 6, 5, 4], result: correct, reward=1"
        """
        if not isinstance(answer, list) or any(isinstance(x, bool) or not isinstance(x, int) for x in answer):
            raise ValueError("parameter 'answer' must be a list of integers")
        ref_answer = self.get_ref_answer()
        correct = answer == ref_answer
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {answer}, reference answer: {ref_answer}"
        return msg + f", result: {'correct' if correct else 'incorrect'}, reward={self._reward}"

    def solve(self):
        r"""Solve the task using only the tools (through self.step with JSON actions) and submit."""
        task = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        remaining = task["rows"] * task["cols"]
        turn = 0
        while remaining > 0:
            side = SIDES[turn % 4]
            info = json.loads(self.step(json.dumps({"name": "TakeSide", "parameters": {"side": side}}))[1])
            remaining = info["remaining_rows"] * info["remaining_cols"]
            turn += 1
        order = json.loads(self.step(json.dumps({"name": "GetCollected", "parameters": {}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": order}}))[1]


if __name__ == "__main__":
    env = SpiralOrderEnv.from_env_str('SpiralOrderEnv@{"matrix": [[1, 2, 3], [4, 5, 6], [7, 8, 9]]}')
    print(env.solve())
    print("step count:", env.step_count)
    env = SpiralOrderEnv.from_env_str(
        'SpiralOrderEnv@{"matrix": [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]}'
    )
    print(env.solve())
    print("step count:", env.step_count)
